#!/usr/bin/python3
"""Turns a file into a C array of bytes ending in NUL (the build embeds
the dashboard's page in the data plane, which serves it from memory; a
string literal would pass the length that ISO C promises to compile).

    embed.py INPUT OUTPUT.c SYMBOL
"""
import sys


def main():
    src, out, symbol = sys.argv[1:4]
    with open(src, "rb") as f:
        data = f.read() + b"\0"
    lines = [f"/* Generated from {src.split('/')[-1]} by tools/embed.py. */",
             f"const char {symbol}[] = {{"]
    for i in range(0, len(data), 16):
        # char may be signed: bytes over 127 are written as negatives.
        lines.append("    " + ", ".join(str(b - 256 if b > 127 else b) for b in
                                        data[i:i + 16]) + ",")
    lines.append("};")
    with open(out, "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
