"""Memory contents out of the Verilog and into ``$readmemh`` files, for Verilator.

yosys's ``write_verilog`` (what Amaranth's back end runs) writes a memory's
initial contents as one assignment per word inside an ``initial`` block.
Verilator turns every such assignment into a line of C++, so a net of real
size spends most of its build compiling its initial weights: 784-128-10 is
4 MB of Verilog and 18.6 MB of C++, almost all of it ``bank[i] = 16'h....``.

:func:`memory_files` rewrites each such block as one ``$readmemh`` of a file
that holds the same words, for the simulation build only: the generated
Verilog (what synthesis reads) is left as it is, and the contents are the
same bits (every result word and final weight is still compared with the
golden model).
"""
import hashlib
import os
import re
from pathlib import Path

# one word of an initial block as yosys writes it:  mem[12] = 16'h00a7;  or  \mem$3 [0] = 8'b...;
_WORD = re.compile(r"^\s*(\\\S+ |[A-Za-z_][\w$]*)\[(\d+)\] = (\d+)'([hbd])([0-9a-fA-F_]+);$")


def _value(base, digits):
    return int(digits.replace("_", ""), {"h": 16, "b": 2, "d": 10}[base])


def memory_files(verilog, folder):
    """``verilog`` with every ``initial`` block that only assigns words of one
    memory replaced by ``initial $readmemh("<folder>/<n>.hex", <memory>);``.

    The files are written into ``folder`` (created; absolute paths in the text,
    since the model runs elsewhere) and named by their content's hash, so
    rewriting the same Verilog writes the same files. Blocks of any other form
    (x or z bits, several memories) are left as they are.
    Returns the new text.
    """
    folder = Path(folder).resolve()
    lines = verilog.split("\n")
    out, k = [], 0
    while k < len(lines):
        line = lines[k]
        if line.strip() != "initial begin":
            out.append(line)
            k += 1
            continue
        end = k + 1
        while end < len(lines) and lines[end].strip() != "end":
            end += 1
        words = [_WORD.match(w) for w in lines[k + 1:end]]
        if end == len(lines) or not words or not all(words) or len({w.group(1) for w in words}) != 1:
            out.extend(lines[k:end + 1])
            k = end + 1
            continue
        text, at = [], None
        for w in words:
            index, width = int(w.group(2)), int(w.group(3))
            if index != at:
                text.append(f"@{index:x}")
            text.append(f"{_value(w.group(4), w.group(5)):0{-(-width // 4)}x}")
            at = index + 1
        body = "\n".join(text) + "\n"
        path = folder / f"{hashlib.sha256(body.encode()).hexdigest()[:20]}.hex"
        if not path.is_file():
            folder.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(body)
            tmp.replace(path)
        indent = line[:len(line) - len(line.lstrip())]
        out.append(f'{indent}initial $readmemh("{path}", {words[0].group(1)});')
        k = end + 1
    return "\n".join(out)
