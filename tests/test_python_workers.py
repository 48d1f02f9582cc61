import gc
import weakref

from arkivlm.python_workers import set_aside_survivors


class Node:
    pass


def test_survivors_are_set_aside_and_unreachable_cycles_collected_first():
    gc.unfreeze()
    try:
        alive = Node()
        alive.me = alive  # a cycle still in use
        dead = Node()
        dead.me = dead  # a cycle nothing refers to: freezing it would keep it for the worker's life
        gone = weakref.ref(dead)
        del dead
        set_aside_survivors()
        assert gone() is None
        assert gc.get_freeze_count() > 0
        assert not any(o is alive for o in gc.get_objects())  # out of every later pass
        assert alive.me is alive
    finally:
        gc.unfreeze()
