/**
 * A Scope made on first use: a server gives each handler a Scope of its own, and most handlers
 * never use it. Until a finalizer is added or a child scope forked, it is this object alone;
 * then it is Effect's own scope, which it forwards to. Effect calls `fork`, `addFinalizer` and
 * `close` on a scope (its `Scope` functions do), and `Effect.forkIn` reads its `state`; its
 * types leave them out.
 */
import { Effect, ExecutionStrategy, type Exit, Scope } from "effect"
import { pipeArguments } from "effect/Pipeable"

export class LazyScope implements Scope.CloseableScope {
  declare readonly [Scope.ScopeTypeId]: Scope.ScopeTypeId
  declare readonly [Scope.CloseableScopeTypeId]: Scope.CloseableScopeTypeId
  declare readonly strategy: ExecutionStrategy.ExecutionStrategy
  /** The scope, once made. */
  private scope: Scope.CloseableScope | undefined = undefined
  /** How it was closed before it was made: a scope made later is made closed (its finalizers run at once). */
  private closedWith: Exit.Exit<unknown, unknown> | undefined = undefined

  /** The scope, made now if it is not yet (made closed, if this was closed: its finalizers then run at once). */
  private made(): Scope.CloseableScope {
    if (this.scope === undefined) {
      // Both synchronous: a new scope, and the close of one that holds nothing yet.
      this.scope = Effect.runSync(Scope.make())
      if (this.closedWith !== undefined) Effect.runSync(Scope.close(this.scope, this.closedWith))
    }
    return this.scope
  }

  /** Effect's scope's state (open, with its finalizers, or closed), which `Effect.forkIn` reads. */
  get state(): unknown {
    return (this.made() as unknown as { readonly state: unknown }).state
  }

  fork(strategy: ExecutionStrategy.ExecutionStrategy): Effect.Effect<Scope.CloseableScope> {
    return Effect.suspend(() => Scope.fork(this.made(), strategy))
  }

  addFinalizer(finalizer: Scope.Scope.Finalizer): Effect.Effect<void> {
    return Effect.suspend(() => Scope.addFinalizerExit(this.made(), finalizer))
  }

  close(exit: Exit.Exit<unknown, unknown>): Effect.Effect<void> {
    return Effect.suspend(() => {
      if (this.scope !== undefined) return Scope.close(this.scope, exit)
      this.closedWith ??= exit
      return Effect.void
    })
  }

  pipe() {
    // eslint-disable-next-line prefer-rest-params
    return pipeArguments(this, arguments)
  }
}

// On the prototype: nothing per instance but the two fields above.
Object.defineProperties(LazyScope.prototype, {
  [Scope.ScopeTypeId]: { value: Scope.ScopeTypeId },
  [Scope.CloseableScopeTypeId]: { value: Scope.CloseableScopeTypeId },
  strategy: { value: ExecutionStrategy.sequential }
})
