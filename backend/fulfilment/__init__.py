"""Fulfilment: what happens once a parcel has a waybill (telling the sales channel it shipped)."""
