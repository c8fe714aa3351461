#!/usr/bin/env python3
"""Parses the function declarations of include/zarrcore.h (as cbindgen
writes them) into (return type, name, [(arg type, arg name)]). Used by the
export check, the Julia ccall check and the ctypes suite.

Usage: header_api.py HEADER   prints one function name per line.
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


if __name__ == "__main__":
    for ret, name, args in parse(sys.argv[1]):
        print(name)
