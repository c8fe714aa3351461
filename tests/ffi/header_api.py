#!/usr/bin/env python3
"""Parses the function declarations of include/zarrcore.h (as cbindgen
writes them) into (return type, name, [(arg type, arg name)]). Used by the
export check, the Julia ccall check and the ctypes suite.

Usage: header_api.py HEADER              prints one function name per line
       header_api.py --check-docs HEADER  checks every function has a doc
                                          comment saying which threads may call it
"""
import re
import sys

_DECL = re.compile(r"([A-Za-z_][\w \*]*?)\s*\b(zarrcore_\w+)\s*\(([^)]*)\)\s*;", re.S)


def _strip_comments(text):
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    return re.sub(r"//[^\n]*", " ", text)


def _norm(t):
    t = re.sub(r"\s+", " ", t.strip())
    return re.sub(r"\s*\*", "*", t)


def parse(path):
    """[(ret, name, [(type, argname), ...])] in header order."""
    text = _strip_comments(open(path, encoding="utf-8").read())
    # Drop preprocessor lines and the C++ guard.
    text = "\n".join(l for l in text.splitlines() if not l.lstrip().startswith("#"))
    text = text.replace('extern "C" {', " ").replace("}", " ")
    out = []
    for m in _DECL.finditer(text):
        ret = _norm(m.group(1).split(";")[-1])
        args = []
        raw = m.group(3).strip()
        if raw and raw != "void":
            for a in raw.split(","):
                a = _norm(a)
                am = re.match(r"(.*?)(\w+)$", a)
                args.append((_norm(am.group(1)), am.group(2)))
        out.append((ret, m.group(2), args))
    return out


def docs(path):
    """{function name: its doc comment text}."""
    text = open(path, encoding="utf-8").read()
    pat = re.compile(r"/\*\*(.*?)\*/\s*\n[^\n;{}]*?\b(zarrcore_\w+)\s*\(", re.S)
    return {m.group(2): m.group(1) for m in pat.finditer(text)}


if __name__ == "__main__":
    if sys.argv[1] == "--check-docs":
        funcs = [name for _, name, _ in parse(sys.argv[2])]
        d = docs(sys.argv[2])
        bad = [f for f in funcs if "Threads:" not in d.get(f, "")]
        for f in bad:
            print(f"{f}: no doc comment naming the threads that may call it")
        print(f"header docs: {len(funcs) - len(bad)} passed, {len(bad)} failed")
        sys.exit(1 if bad or not funcs else 0)
    for ret, name, args in parse(sys.argv[1]):
        print(name)
