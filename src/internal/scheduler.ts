/**
 * The scheduler of a server's connection fibers: Effect's own scheduler, except that the fiber a
 * socket event wakes runs within that event's callback, once, instead of in a task queued for it.
 *
 * A socket event (a read, the end, a drain) calls `wake`, which resumes one waiting fiber. Run
 * there, the conversation answers before the callback returns: no task queued and run later for
 * every message. Everything else the fiber does (yielding, sleeping, forking, waking other fibers)
 * goes through the scheduler it wraps, so handler code runs as on Effect's default scheduler: no
 * stack growth, fair yielding to other fibers and to I/O.
 */
import type { Fiber, Scheduler } from "effect"

/** Whether the next task scheduled is the fiber a socket event is waking (see `wake`). */
let inline = false

/** Resumes a fiber from a socket event: if it runs on a `ConnectionScheduler`, it runs now. */
export const wake = <A>(resume: (value: A) => void, value: A): void => {
  inline = true
  try {
    resume(value)
  } finally {
    inline = false
  }
}

export class ConnectionScheduler implements Scheduler.Scheduler {
  constructor(readonly scheduler: Scheduler.Scheduler) {}

  shouldYield(fiber: Fiber.RuntimeFiber<unknown, unknown>): number | false {
    return this.scheduler.shouldYield(fiber)
  }

  scheduleTask(task: Scheduler.Task, priority: number, fiber?: Fiber.RuntimeFiber<unknown, unknown>): void {
    if (!inline) return this.scheduler.scheduleTask(task, priority, fiber)
    // Once: what the woken fiber schedules while it runs is queued as usual.
    inline = false
    task()
  }
}
