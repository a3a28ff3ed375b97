#!/usr/bin/env python3
"""Writes a C++ source defining `std::string_view NAME` holding the bytes of a text file,
so the gateway carries its demo configuration with no file on disk."""
import sys

src, out, name = sys.argv[1:4]
text = open(src, encoding="utf-8").read()
delim = "JGEMBED"
assert f"){delim}\"" not in text
with open(out, "w", encoding="utf-8") as f:
    f.write("// Generated from %s by embed_text.py; do not edit.\n" % src.split("/")[-1])
    f.write("#include <string_view>\nnamespace jg::app {\n")
    f.write(f'extern const std::string_view {name} = R"{delim}({text}){delim}";\n')
    f.write("}  // namespace jg::app\n")
