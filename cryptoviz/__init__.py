"""CryptoViz: the package every service imports (settings, contract, clients, models, readers)."""

__version__ = "0.1.0"
