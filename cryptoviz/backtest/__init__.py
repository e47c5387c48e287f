"""Walk-forward backtest: the runner (the live model core fed history in event-time order), its report."""
