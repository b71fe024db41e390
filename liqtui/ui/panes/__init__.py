"""The panes of the main screen, one module each: the liquidation map (`liq_map`), and the others."""
