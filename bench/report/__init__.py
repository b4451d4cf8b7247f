"""Reports: markdown (jinja2 templates) and, later, plots. Exporters return text; callers write."""
