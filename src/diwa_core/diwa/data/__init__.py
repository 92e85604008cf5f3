"""Episode datasets: the consolidated training format, CALVIN's per-frame layout, rosbag2 conversion."""

from diwa.data.calvin_layout import read_calvin, write_calvin
from diwa.data.dataset import Annotation, Dataset, load_dataset, save_dataset

__all__ = ["Annotation", "Dataset", "load_dataset", "read_calvin", "save_dataset", "write_calvin"]
