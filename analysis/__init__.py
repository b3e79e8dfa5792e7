"""Analysis: pure functions over GeoDataFrames, from measurements to weak areas and proposals.

Modules (each with its rules in its docstring):

- `analysis.load`: measurements (records, database rows or exported files) -> GeoDataFrame;
- `analysis.period`: the one meaning of a survey period (local dates, end included, or exact times);
- `analysis.thresholds` (+ ``thresholds.toml``): targets with their sources, windows, rules;
- `analysis.cells`: statistics per H3 cell x carrier x access x window;
- `analysis.classify`: dead_spot / confirmed_weak / likely_weak / ok / insufficient_data;
- `analysis.areas`: contiguous weak cells -> weak areas with a likely cause;
- `analysis.sites`: service points and their scorecards;
- `analysis.proposals`: ranked upgrade proposals per carrier;
- `analysis.planner`: where evidence is missing, and a walk route to collect it;
- `analysis.compare`: carriers side by side with significance tests;
- `analysis.rollup`: coarser H3 cells and administrative zones;
- `analysis.ookla`: zoom-16 quadkey tiles, Ookla open data comparison;
- `analysis.export`: GeoPackage, GeoJSON, CSV;
- `analysis.pipeline`: `run_survey`, everything in one call (used by maps, report, dashboard).

All functions check the CRS, never modify their inputs and answer in the caller's CRS.
"""
