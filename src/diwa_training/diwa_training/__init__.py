"""The TrainWorldModel and FineTune action servers: `diwa` training in a child process, staged outputs."""
