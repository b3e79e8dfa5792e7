"""Where a measurement was taken: GNSS (NMEA, gpsd), GPX tracks from phones, fixed sites."""
