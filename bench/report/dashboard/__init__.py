"""`vlm-bench dashboard`: a self-contained static site of many runs (index, trends with
change points and gate verdicts, one page per run, compare pages). Entry: site.build_site.
"""
