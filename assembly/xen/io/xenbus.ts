// Mirrors xen/include/public/io/xenbus.h: the XenbusState values frontends and backends publish.
// See docs/abi-layer.md for the conventions.

/** C `XenbusState` (`enum xenbus_state`): the state a device end writes to its "state" node. */
export type XenbusState = i32;

/** State not known, or the node is absent. */
export const XenbusStateUnknown: XenbusState = 0;
/** Early initialisation in progress. */
export const XenbusStateInitialising: XenbusState = 1;
/** Early initialisation done; waiting for the peer or hotplug scripts. */
export const XenbusStateInitWait: XenbusState = 2;
/** Initialised; waiting for a connection from the peer. */
export const XenbusStateInitialised: XenbusState = 3;
/** Connected to the peer and operational. */
export const XenbusStateConnected: XenbusState = 4;
/** Being closed because of an error or an unplug event. */
export const XenbusStateClosing: XenbusState = 5;
/** Closed. */
export const XenbusStateClosed: XenbusState = 6;
/** Being reconfigured. */
export const XenbusStateReconfiguring: XenbusState = 7;
/** Reconfiguration done. */
export const XenbusStateReconfigured: XenbusState = 8;
