/** Counters of one node's membership protocol. */
export interface MembershipMetrics {
  /** Direct probes sent. */
  probes: number;
  /** Acks received for this node's probes (direct, indirect or stream fallback). */
  acks: number;
  /** ping-req messages sent to witnesses. */
  indirectProbes: number;
  /** Probes relayed for others (this node as witness). */
  relayedProbes: number;
  nacksReceived: number;
  /** Suspicions this node raised (failed probes). */
  suspicions: number;
  /** Suspicions of this node that it refuted. */
  refutations: number;
  /** Members this node declared Unreachable when their suspicion timer ran out. */
  declaredUnreachable: number;
  gossipMessages: number;
  pushPulls: number;
  /** Newcomers sent the whole membership as their link to this node came up (PushPull.welcome). */
  welcomes: number;
  /** Claims that changed this node's view. */
  claimsApplied: number;
  /** Claims that were old news or about unknown members. */
  claimsIgnored: number;
  /** Two processes with one identity seen: alive claims for our id we did not make, or two different alive claims of one member at one incarnation. */
  identityConflicts: number;
  /** Pings addressed to another node id. */
  misroutedPings: number;
  /** Acks that proved nothing: relayed by a witness without the target's matching signed answer. */
  acksRejected: number;
  /** ping-reqs refused (nack) because the asking link already has its relays in flight. */
  relaysRefused: number;
  /** Digest exchanges not answered: the link had one answered within the interval. */
  exchangesRefused: number;
  /** `want` lists not answered: no exchange of ours open with that peer, or ids we did not list. */
  wantsRefused: number;
  /**
   * Accusations that carried no weight: above the incarnation held for their subject (or
   * above ours), signed by a non-member, or repeated by an accuser the subject refuted lately.
   */
  accusationsIgnored: number;
  /** Accusations older than the incarnation held, answered to the neighbour that passed them on with our claims of the member (see Membership.#answerStale). */
  staleAccusationsAnswered: number;
  /** Alive claims of a member reaped here, passed on by a neighbour, answered with the declaration it was reaped on (see Membership.#answerZombie). */
  zombiesAnswered: number;
  /** Ignored accusations handed to the accused over our link to it (see Membership.#handOver). */
  accusationsHandedOver: number;
  /** Accusations not weighed here passed on along the broadcast tree, weightless (see Membership). */
  accusationsPassedOn: number;
  /** Alive or leave claims that would raise an incarnation beyond the allowed step. */
  incarnationJumpsRefused: number;
  /**
   * Alive claims of new members refused: maxMembers reached, or the newcomer quota of the
   * node or link spent and no room left for them to wait (waiting-newcomers.ts).
   */
  membersRefused: number;
  /** Alive claims of new members over the newcomer quota, held until it admits them (waiting-newcomers.ts). */
  membersWaited: number;
  /** Accusations of this node answered late: it had refuted within the refute interval. */
  refutationsDeferred: number;
  /** Members checked (dialled) after ghostTimeoutMs without a sign of being reachable. */
  membersChecked: number;
  /**
   * Members checked (dialled) a few seconds after a link to them closed gracefully, because
   * every link they were known to have was gone (see Membership.memberToCheck).
   */
  unlinkedChecked: number;
  /** Members reaped here dialled because another member still passed on their alive claim (see Membership.memberToCheck). */
  reapedRevisited: number;
  /** Checked members suspected because the check brought no sign of them. */
  ghostsSuspected: number;
}

export function emptyMembershipMetrics(): MembershipMetrics {
  return {
    probes: 0,
    acks: 0,
    indirectProbes: 0,
    relayedProbes: 0,
    nacksReceived: 0,
    suspicions: 0,
    refutations: 0,
    declaredUnreachable: 0,
    gossipMessages: 0,
    pushPulls: 0,
    welcomes: 0,
    claimsApplied: 0,
    claimsIgnored: 0,
    identityConflicts: 0,
    misroutedPings: 0,
    acksRejected: 0,
    relaysRefused: 0,
    exchangesRefused: 0,
    wantsRefused: 0,
    accusationsIgnored: 0,
    accusationsHandedOver: 0,
    accusationsPassedOn: 0,
    staleAccusationsAnswered: 0,
    zombiesAnswered: 0,
    incarnationJumpsRefused: 0,
    membersRefused: 0,
    membersWaited: 0,
    refutationsDeferred: 0,
    membersChecked: 0,
    reapedRevisited: 0,
    ghostsSuspected: 0,
    unlinkedChecked: 0,
  };
}
