"""Invoice requests (发票): a customer's title, staff issuing the PDF, reversal after refunds."""
