"""Walk-forward backtest: the runner (the live SymbolModel fed one row at a time) and its report."""
