"""补偿: a goodwill amount refunded to the customer on top of any return or cancel."""
