"""The planning core: plan, register, rules, district assignment, capacity, findings, rights.

Pure data in, data out: imports nothing from ``planner.io``, ``planner.store``, ``planner.app`` or
``planner.cli``, and never streamlit.
"""
