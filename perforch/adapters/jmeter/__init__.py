"""JMeter: the scenario as a .jmx plan (core elements of JMeter 2.13 to 5.x), its run, and every JTL shape."""
