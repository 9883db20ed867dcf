"""boards/report.py's static timing from nextpnr's SDF, on a hand-written netlist whose path
delays are worked out by hand (the tools' figures are checked in the FPGA builds)."""

import pytest

from gluon.boards.report import sdf_timing_graph, sdf_worst_paths, paths_by_block


# nextpnr's layout: one statement a line, `$` escaped, parentheses in names left as they are.
# a.q -> lut1 -> lut2 -> b.DI  and  a.q -> b.CE (short);  c.q -> lut2 (longer launch);
# every figure in ps; the slow corner (the third value) is what counts.
SDF = r"""(DELAYFILE
  (SDFVERSION "3.0")
  (DESIGN "top")
  (TIMESCALE 1ps)
  (CELL
    (CELLTYPE "top")
    (INSTANCE )
    (DELAY
      (ABSOLUTE
        (INTERCONNECT logic.soc.x.a/Q logic.soc.x.lut1(0)\$COMB/A (100:150:200) (100:150:200))
        (INTERCONNECT logic.soc.x.a/Q logic.soc.y.b/CE (100:150:300) (100:150:300))
        (INTERCONNECT logic.soc.x.lut1(0)\$COMB/F logic.soc.y.lut2/B (400:500:600) (400:500:600))
        (INTERCONNECT logic.soc.y.c/Q logic.soc.y.lut2/A (10:20:30) (10:20:30))
        (INTERCONNECT logic.soc.y.lut2/F logic.soc.y.b/DI (50:60:70) (50:60:70))
      )
    )
  )
  (CELL
    (CELLTYPE "TRELLIS_FF")
    (INSTANCE logic.soc.x.a)
    (DELAY
      (ABSOLUTE
        (IOPATH CLK Q (400:450:500) (400:450:500))
      )
    )
    (TIMINGCHECK
      (SETUPHOLD (posedge DI) (posedge CLK) (0:0:0) (1:1:1))
    )
  )
  (CELL
    (CELLTYPE "TRELLIS_FF")
    (INSTANCE logic.soc.y.c)
    (DELAY
      (ABSOLUTE
        (IOPATH CLK Q (400:450:1000) (400:450:1000))
      )
    )
    (TIMINGCHECK
      (SETUPHOLD (posedge DI) (posedge CLK) (0:0:0) (1:1:1))
    )
  )
  (CELL
    (CELLTYPE "TRELLIS_COMB")
    (INSTANCE logic.soc.x.lut1(0)\$COMB)
    (DELAY
      (ABSOLUTE
        (IOPATH A F (200:218:236) (200:218:236))
      )
    )
  )
  (CELL
    (CELLTYPE "TRELLIS_COMB")
    (INSTANCE logic.soc.y.lut2)
    (DELAY
      (ABSOLUTE
        (IOPATH A F (200:218:236) (200:218:236))
        (IOPATH B F (200:218:240) (200:218:240))
      )
    )
  )
  (CELL
    (CELLTYPE "TRELLIS_FF")
    (INSTANCE logic.soc.y.b)
    (DELAY
      (ABSOLUTE
        (IOPATH CLK Q (400:450:500) (400:450:500))
      )
    )
    (TIMINGCHECK
      (SETUPHOLD (posedge DI) (posedge CLK) (90:95:100) (1:1:1))
      (SETUPHOLD (posedge CE) (posedge CLK) (0:0:0) (1:1:1))
    )
  )
)
"""


def test_graph_reads_arcs_launches_and_setups():
    edges, launch, setup = sdf_timing_graph(SDF)
    assert launch[("logic.soc.x.a", "Q")] == pytest.approx(0.5)
    assert launch[("logic.soc.y.c", "Q")] == pytest.approx(1.0)
    assert (("logic.soc.y.lut2", "F"), pytest.approx(0.24)) in edges[("logic.soc.y.lut2", "B")]
    assert setup[("logic.soc.y.b", "DI")] == pytest.approx(0.1)
    assert ("logic.soc.x.a", "CLK") not in edges       # a clock pin launches, it is no arc


def test_worst_path_is_the_longest_by_hand():
    paths = sdf_worst_paths(SDF)
    worst = paths[0]
    # a: 0.5 + 0.2 + lut1 0.236 + 0.6 + lut2(B) 0.24 + 0.07 + setup 0.1 = 1.946 ns;
    # through c: 1.0 + 0.03 + 0.236 + 0.07 + 0.1 = 1.436 ns
    assert worst["ns"] == pytest.approx(1.946)
    assert (worst["start"], worst["end"]) == ("logic.soc.x.a", "logic.soc.y.b")
    assert worst["pins"][0] == ("logic.soc.x.a", "Q")
    assert worst["pins"][-1] == ("logic.soc.y.b", "DI")
    assert len(paths) == 1                    # one path per endpoint cell: b's worst pin


def test_paths_by_block_names_blocks_and_excludes(tmp_path):
    f = tmp_path / "x.sdf"
    f.write_text(SDF)
    per_block, others = paths_by_block(f, log=lambda m: None)
    assert per_block["logic.soc.y"]["through"] == ["logic.soc.x", "logic.soc.y"]
    assert per_block["logic.soc.y"]["mhz"] == pytest.approx(1000 / 1.946, abs=0.1)
    _, others = paths_by_block(f, exclude=("logic.soc.x",), log=lambda m: None)
    assert others == []                       # the only path starts in x


def test_paths_launched_from_a_cell_are_what_follows_it():
    # from lut1's output, as if a register drove it with 0.3 ns clock-to-out:
    # 0.3 + 0.6 + lut2(B) 0.24 + 0.07 + setup 0.1 = 1.31 ns; nothing else launches
    paths = sdf_worst_paths(SDF, launch_from=lambda c: c.startswith("logic.soc.x.lut1"),
                            launch_ns=0.3)
    assert [(p["start"], p["end"]) for p in paths] == [("logic.soc.x.lut1(0)$COMB", "logic.soc.y.b")]
    assert paths[0]["ns"] == pytest.approx(1.31)
    assert sdf_worst_paths(SDF, launch_from=lambda c: False) == []
