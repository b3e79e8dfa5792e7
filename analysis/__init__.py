"""Analysis: pure functions over GeoDataFrames, from measurements to weak areas and proposals."""
