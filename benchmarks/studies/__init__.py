"""Quality studies: resumable drivers that write ``OUT/results.jsonl`` and print its tables."""
