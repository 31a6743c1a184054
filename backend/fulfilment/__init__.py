"""Fulfilment: from a paid order to parcels under waybills, confirmed to the sales channel."""
