"""The benchmark (`make bench`): bulk data in a separate `crm_bench` database, then timings."""
