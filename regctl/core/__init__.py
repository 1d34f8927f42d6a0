"""What every store shares: errors, names, URIs, filters, results, the Backend contract, the
journal, atomic files, digests and the use-case rules written once."""
