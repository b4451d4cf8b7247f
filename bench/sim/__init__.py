"""The reference simulator: an OpenAI-compatible VLM server whose timings are known."""
