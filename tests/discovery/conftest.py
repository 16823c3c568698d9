import pytest
import torch


@pytest.fixture(autouse=True)
def _one_thread():
    """Small training runs are fastest (and least disturbed by a busy machine) on one thread."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
