"""Memory contents moved out of the Verilog into $readmemh files (sim/verilator/memory_files.py)."""
from layerpipe.sim.verilator.memory_files import memory_files

VERILOG = """\
module m(input clk);
  reg [15:0] bank0 [3:0];
  initial begin
    bank0[0] = 16'h0031;
    bank0[1] = 16'hff94;
    bank0[3] = 16'h00a7;
  end
  reg [4:0] \\mem$7  [1:0];
  initial begin
    \\mem$7 [0] = 5'b10011;
    \\mem$7 [1] = 5'd4;
  end
  reg [3:0] odd [1:0];
  initial begin
    odd[0] = 4'hx;
    odd[1] = 4'h1;
  end
endmodule"""


def test_initial_blocks_become_files_with_the_same_words(tmp_path):
    text = memory_files(VERILOG, tmp_path / "mem")
    files = sorted((tmp_path / "mem").glob("*.hex"))
    assert len(files) == 2
    reads = [line.strip() for line in text.splitlines() if "$readmemh" in line]
    assert len(reads) == 2 and reads[0].endswith(", bank0);") and reads[1].endswith(", \\mem$7 );")
    by_name = {r.split(", ")[1]: r.split('"')[1] for r in reads}
    # a gap in the addresses is an @address line; every word keeps its width in hex digits
    assert open(by_name["bank0);"]).read().split() == ["@0", "0031", "ff94", "@3", "00a7"]
    assert open(by_name["\\mem$7 );"]).read().split() == ["@0", "13", "04"]
    # a block with x bits stays as it was; nothing else changes
    assert "odd[0] = 4'hx;" in text and text.count("initial begin") == 1
    assert text.startswith("module m(input clk);\n  reg [15:0] bank0 [3:0];\n  initial $readmemh(")
    # the same Verilog gives the same text and files again
    assert memory_files(VERILOG, tmp_path / "mem") == text
    assert sorted((tmp_path / "mem").glob("*")) == files
