"""Analysis: pure functions over GeoDataFrames, from measurements to weak areas and proposals.

Modules (each with its rules in its docstring):

- `analysis.load`: measurements (records, database rows or exported files) -> GeoDataFrame;
- `analysis.period`: the one meaning of a survey period (local dates, end included, or exact times);
- `analysis.thresholds` (+ ``thresholds.toml``): targets with their sources, windows, rules;
- `analysis.cells`: statistics per H3 cell x carrier x access x window;
- `analysis.classify`: dead_spot / confirmed_weak / likely_weak / likely_ok / ok /
  insufficient_data, "ok" needing as much support as "weak";
- `analysis.deadspots`: dead spots from clustered failed tests, whatever cells they fall in;
- `analysis.causes`: the likely cause of a weak place with its certainty (radio before load);
- `analysis.areas`: dead spots and contiguous weak cells -> weak areas with their evidence;
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
