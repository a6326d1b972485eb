"""Turn retrieval results into a Vietnamese answer quoted from the record's fields."""
