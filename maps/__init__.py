"""Maps and reports: offline folium heat maps and the carriers' PDF report, Vietnamese first."""
