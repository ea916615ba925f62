"""Raw data: the contract every batch must honour, and the sources batches come from."""
