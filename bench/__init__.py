"""vlm-bench: performance benchmarking of vision-language-model serving."""

__version__ = "0.1.0"
