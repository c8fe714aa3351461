#!/usr/bin/env python3
"""Checks examples/julia/ZarrCore.jl against include/zarrcore.h without
Julia (which cannot be installed here): every `ccall` names a function of
the header, with the same number of arguments, argument and return types
that match the C types, and as many values passed as types declared; every
header function has exactly one ccall.

Usage: check_julia_ccalls.py HEADER ZarrCore.jl   (exit 0 when all match)
"""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import header_api  # noqa: E402

SCALARS = {
    "int32_t": {"Int32", "Cint"},
    "zarrcore_status": {"Int32", "Cint"},
    "uint32_t": {"UInt32", "Cuint"},
    "uint64_t": {"UInt64"},
    "size_t": {"Csize_t", "UInt"},
    "char": {"UInt8", "Cchar"},
    "void": {"Cvoid", "Nothing"},
}
HANDLES = ("zarrcore_store", "zarrcore_group", "zarrcore_array")
# Function pointer typedefs: passed as a `@cfunction` pointer or C_NULL.
FUNCTION_POINTERS = ("zarrcore_copy_progress_fn",)


def allowed(ctype, is_return=False):
    """The Julia spellings that match a C type."""
    t = ctype.replace("const ", "").strip()
    stars = t.count("*")
    base = t.replace("*", "").strip()
    if stars == 0 and base in FUNCTION_POINTERS:
        return {"Ptr{Cvoid}"}
    if stars == 0:
        return SCALARS[base]
    if base in HANDLES:
        inner = "Ptr{Cvoid}"
        for _ in range(stars - 1):
            inner = "Ptr{%s}" % inner
        return {inner, "Ref{%s}" % inner[4:-1]} if stars > 1 else {inner}
    if stars == 1 and base == "char":
        return {"Cstring", "Ptr{UInt8}", "Ptr{Cchar}"}
    if stars == 1:
        return {"Ptr{%s}" % j for j in SCALARS[base]} | (
            set() if is_return else {"Ref{%s}" % j for j in SCALARS[base]})
    raise ValueError(f"no Julia mapping for {ctype}")


def split_top(s):
    """Splits on commas not inside (), {} or []."""
    out, depth, cur = [], 0, ""
    for ch in s:
        if ch in "({[":
            depth += 1
        elif ch in ")}]":
            depth -= 1
        if ch == "," and depth == 0:
            out.append(cur.strip())
            cur = ""
        else:
            cur += ch
    if cur.strip():
        out.append(cur.strip())
    return out


def ccalls(text):
    """[(name, ret, [types], [values], wrapper_arity)] for each ccall."""
    text = re.sub(r"#[^\n]*", "", text)
    found = []
    for m in re.finditer(r"ccall\(", text):
        i, depth = m.end(), 1
        while depth:
            depth += {"(": 1, ")": -1}.get(text[i], 0)
            i += 1
        parts = split_top(text[m.end():i - 1])
        target = re.fullmatch(r"\(:(\w+),\s*libzarrcore\)", parts[0])
        if not target:
            raise SystemExit(f"ccall with an unexpected target: {parts[0]}")
        types = parts[2].strip()
        assert types.startswith("(") and types.endswith(")"), types
        tlist = split_top(types[1:-1])
        # The wrapper definition just before: `name(args) =`.
        head = text[:m.start()].rstrip()
        wm = re.search(r"(\w+)\(([^()]*)\)\s*=\s*$", head)
        arity = None if wm is None else len(split_top(wm.group(2)))
        wname = None if wm is None else wm.group(1)
        found.append((target.group(1), parts[1].strip(), tlist, parts[3:], arity, wname))
    return found


def main():
    header, jl = sys.argv[1], sys.argv[2]
    funcs = {name: (ret, args) for ret, name, args in header_api.parse(header)}
    problems, seen = [], {}
    calls = ccalls(open(jl, encoding="utf-8").read())
    for name, ret, types, values, arity, wname in calls:
        seen[name] = seen.get(name, 0) + 1
        if name not in funcs:
            problems.append(f"{name}: not a function of the header")
            continue
        cret, cargs = funcs[name]
        if len(types) != len(cargs):
            problems.append(f"{name}: {len(types)} argument types, the header has {len(cargs)}")
        if len(values) != len(types):
            problems.append(f"{name}: passes {len(values)} values for {len(types)} types")
        if arity is not None and arity != len(cargs):
            problems.append(f"{name}: wrapper takes {arity} arguments, the header has {len(cargs)}")
        if wname != name:
            problems.append(f"{name}: wrapped by a function named {wname!r}")
        if ret not in allowed(cret, is_return=True):
            problems.append(f"{name}: returns {ret}, the header returns {cret}")
        for k, ((ctype, cname), jtype) in enumerate(zip(cargs, types)):
            if jtype not in allowed(ctype):
                problems.append(f"{name}: argument {k + 1} ({cname}) is {jtype}, "
                                f"the header has {ctype}")
    for name in funcs:
        if seen.get(name, 0) != 1:
            problems.append(f"{name}: {seen.get(name, 0)} ccalls (expected exactly 1)")
    for p in problems:
        print("MISMATCH", p)
    n = len(calls)
    print(f"check_julia_ccalls: {n - len({p.split(':')[0] for p in problems})} passed, "
          f"{len(problems)} failed")
    return 1 if problems or n == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
