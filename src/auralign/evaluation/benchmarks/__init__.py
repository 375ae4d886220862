"""Standard audio-language benchmarks from their official on-disk layouts: the user supplies the
files, auralign supplies the splits, the protocol and a table comparable with the papers'."""

from auralign.evaluation.benchmarks.base import LoadedDataset
from auralign.evaluation.benchmarks.registry import BENCHMARKS, Benchmark, get_benchmark
from auralign.evaluation.benchmarks.runner import BenchmarkReport, TableRow, run_benchmark, supported_tasks

__all__ = ["BENCHMARKS", "Benchmark", "BenchmarkReport", "LoadedDataset", "TableRow", "get_benchmark",
           "run_benchmark", "supported_tasks"]
