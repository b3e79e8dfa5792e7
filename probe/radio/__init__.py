"""Radio state from the modems: ModemManager (mmcli) and Quectel AT responses."""
