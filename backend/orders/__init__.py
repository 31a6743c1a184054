"""Order core: the order model, its lifecycle, customer access and the services on orders."""
