"""The business: order core, logistics and refunds, with no knowledge of the web layer."""
