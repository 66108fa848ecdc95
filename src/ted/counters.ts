// The gateway's counters. The first three are the TED objects of CISCO-IPSEC-MIB
// (cipsIPsecStatistics, 1.3.6.1.4.1.9.10.62.1.2.2.{1,2,3}); the rest are ours, named for what
// they count. All are plain monotonically increasing numbers except the *Current gauges.

export function newCounters() {
  return {
    /** CISCO-IPSEC-MIB cipsNumTEDProbesReceived: probes received (valid or not). */
    cipsNumTEDProbesReceived: 0,
    /** CISCO-IPSEC-MIB cipsNumTEDProbesSent: probe transmissions, retransmissions included. */
    cipsNumTEDProbesSent: 0,
    /** CISCO-IPSEC-MIB cipsNumTEDFailures: discoveries that ended without a tunnel (every reason below). */
    cipsNumTEDFailures: 0,

    // data path
    packets: 0,
    forwarded: 0,
    bypassed: 0,
    dropped: 0,
    /** DROP while a probe for (entry, destination) is pending. */
    dropsWhileProbing: 0,
    /** DROP while the destination is held down after a failure. */
    dropsHeldDown: 0,
    /** DROP because a covering tunnel is negotiated but not yet established. */
    dropsWhileNegotiating: 0,
    /** DROP on a gateway without the initiator role (nothing to discover with). */
    dropsNotInitiator: 0,
    /** DROP of a frame that yielded no 5-tuple. */
    dropsUndecodable: 0,
    flowCacheHits: 0,
    flowCacheMisses: 0,
    flowCacheInvalidations: 0,

    // initiator
    probesStarted: 0,
    probeRetransmits: 0,
    probesGivenUp: 0,
    responsesReceived: 0,
    responsesAccepted: 0,
    responseMalformed: 0,
    responseTruncated: 0,
    responseWrongExchange: 0,
    responseBadMessageId: 0,
    responseUnknownCookie: 0,
    responseZeroRcookie: 0,
    responseSourceMismatch: 0,
    responseFamilyMismatch: 0,
    intersectEmptyFamily: 0,
    intersectEmptyProtocol: 0,
    intersectEmptySource: 0,
    intersectEmptyDestination: 0,
    intersectEmptySport: 0,
    intersectEmptyDport: 0,
    /** Block 218: P is not inside the intersection. */
    packetOutsideIntersection: 0,
    /** Tunnels whose proxy was narrowed around P's destination (discovery.destinationPrefix4/6). */
    proxiesNarrowed: 0,
    holdDownsStarted: 0,
    tunnelsNegotiated: 0,
    tunnelsEstablished: 0,
    tunnelsReused: 0,
    handoffFailures: 0,
    tunnelsExpired: 0,
    tunnelsIdle: 0,
    tunnelsTornDown: 0,
    /** The handoff reported a tunnel's SAs gone (IKE or CHILD_SA down): removed, destination held down. */
    tunnelsHandoffDown: 0,

    // responder
    responsesSent: 0,
    probeMalformed: 0,
    probeTruncated: 0,
    probeBadMessageId: 0,
    probeBadCookies: 0,
    probeFamilyMismatch: 0,
    probeDestinationMismatch: 0,
    probeNoEntry: 0,
    probeDenied: 0,
    /** Over the initiator address's answer budget. */
    probeRateLimited: 0,
    /** Over the budget of the initiator's prefix (rateLimit.prefixLength4/6). */
    probePrefixLimited: 0,
    /** Over the gateway's total answer budget. */
    probeGlobalLimited: 0,
    /** The ID (where the answer would go) is not a unicast host elsewhere: unspecified, loopback, link-local, multicast, broadcast, class E, IPv4-mapped. */
    probeIdNotUnicast: 0,
    /** The ID is our own address. */
    probeIdOwn: 0,
    /** The answer would be larger on the wire than the probe (an unpadded probe): not answered, so nothing is amplified. */
    probeTooSmall: 0,
    probeNotResponder: 0,
    /** Datagrams that are neither a probe nor a response (other exchanges, other protocols). */
    datagramsIgnored: 0,
    /** transport.send threw (it should not): the datagram is treated as lost. */
    transportErrors: 0,
    /** A datagram whose handling failed unexpectedly (a bug): dropped and counted, receive() does not throw. */
    receiveErrors: 0,

    // bounds (refuse and count)
    refusedTunnels: 0,
    refusedPending: 0,
    refusedHoldDowns: 0,
    /** No probe: the packet's source host already holds limits.maxPendingPerSource, or the table's reserve is for other hosts. */
    refusedPendingSource: 0,
    /** No hold-down recorded: the source host already caused limits.maxHoldDownsPerSource, or the table's reserve is for other hosts. */
    refusedHoldDownsSource: 0,
  };
}

export type Counters = ReturnType<typeof newCounters>;
export type CounterName = keyof Counters;
