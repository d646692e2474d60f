"""Simulation: scenario files (:mod:`.scenario`), their ground truth (:mod:`.truth`), the
simulated-sensor toolkit (:mod:`.sensing`), running a scenario (:mod:`.runner`) and the built-in
single-sensor generators (:mod:`.generators`).

Each sensor kind's simulated model lives with its kind (``cuas/sensors/<kind>/sim.py``, found
through the sensor kind registry). Writes recordings and truth that the rest of cuas reads like
real captures; imports record, eval (truth files), wire, config, geo and the sensor registry.
"""
