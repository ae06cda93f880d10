"""Local runtime for laptops, tests, demo and benchmarks (not deployed).

Starts Azurite and the simulators as child processes and hosts the function objects
without Azure Functions Core Tools.
"""
