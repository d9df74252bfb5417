// Package fakeentra is an in-process fake of Microsoft Entra ID: the token
// endpoint of the authority and the Microsoft Graph v1.0 subset a directory
// sync reads. It serves HTTPS on 127.0.0.1 with a CA generated in memory,
// so the real azidentity credential and msgraph-sdk-go client talk to it
// unchanged; it imports neither.
//
// # Endpoints
//
// Authority (URL() is the authority host):
//
//	GET  /{tenant}/v2.0/.well-known/openid-configuration
//	POST /{tenant}/oauth2/v2.0/token      client_credentials, scope URL()+"/.default"
//	GET  /{tenant}/discovery/v2.0/keys
//
// Graph (URL()+"/v1.0" is the Graph base URL; a bearer token is required
// and decides the tenant):
//
//	GET /v1.0/users                       $select $top $expand=manager($select=...) $count $skiptoken,
//	                                      and $filter as startswith(userPrincipalName,'...')
//	                                      (case-insensitive)
//	GET /v1.0/users/$count                text/plain; needs ConsistencyLevel: eventual; $filter
//	                                      as on /users (the users that listing would list)
//	GET /v1.0/users/{id or UPN}           $select $expand
//	GET /v1.0/users/{id}/manager
//	GET /v1.0/users/delta()               $select $top $expand $skiptoken $deltatoken (also /users/delta)
//	GET /v1.0/groups                      $select $top $count $skiptoken, and $filter as
//	                                      startswith(displayName,'...') (case-insensitive) or
//	                                      id in ('...',...) (at most 15 values)
//	GET /v1.0/groups/$count               text/plain; needs ConsistencyLevel: eventual
//	GET /v1.0/groups/{id}
//	GET /v1.0/groups/delta()              $select (may name members: members@delta) $top
//	GET /v1.0/groups/{id}/members[/graph.user|/graph.group]
//	GET /v1.0/groups/{id}/transitiveMembers[/graph.user|/graph.group]
//	GET /v1.0/groups/{id}/{members|transitiveMembers}[/graph.user|/graph.group]/$count
//	GET /v1.0/organization
//
// A $count segment answers like Graph does for directory objects: the
// number as text/plain, and 400 Request_BadRequest "$count is not currently
// supported." without the ConsistencyLevel: eventual header. It counts
// what the listing would list at that moment, so it follows Update.
//
// Query options are accepted with or without "$" and URL-encoded. $search,
// $orderby and $skip are refused with 400 rather than ignored, and so is
// $filter except in the two forms /groups takes (in an OData string
// literal a quote is written as two quotes), and the one /users and
// /users/$count take; another filter is 400
// Request_UnsupportedQuery, as Graph answers one it cannot serve. Pages
// carry absolute @odata.nextLink values (a filter's included); listings,
// filtered ones too, are in object-id order, not by name, and an unfiltered
// page costs O(page size). Users need User.Read.All or
// Directory.Read.All; groups and memberships Group.Read.All,
// GroupMember.Read.All or Directory.Read.All; otherwise 403
// Authorization_RequestDenied. Errors have the shape of the real services:
// AAD's error/error_description/error_codes for the authority, OData's
// error/code/message/innerError for Graph.
//
// Delta: each Update bumps the tenant's version and stamps changed, added
// and removed objects with it. A delta round ends with an
// @odata.deltaLink; following it lists what changed after the round
// started, as Graph's incremental rounds do
// (https://learn.microsoft.com/en-us/graph/delta-query-overview,
// .../delta-query-users, .../delta-query-groups):
//
//   - a new, changed or restored user or group in full selected form;
//   - a soft-deleted one (moved to Tenant.DeletedUsers or DeletedGroups,
//     e.g. by SoftDeleteUser; no longer served, restorable) as
//     {"id":...,"@removed":{"reason":"changed"}}, a permanently deleted
//     one (DeleteUserPermanently, or gone from the tenant) as "deleted";
//   - with members selected, a group whose properties or direct members
//     changed, with its selected properties and members@delta holding only
//     the net change since the token: members added as in an initial
//     round, members removed as {"@odata.type":...,"id":...,
//     "@removed":{"reason":"deleted"}}. A member added and removed again
//     in between is not listed, nor a group whose only change nets out. A
//     deleted (or soft-deleted) user or group leaves every group it was
//     in; a restored one rejoins them, as Entra restores memberships.
//
// Entra soft-deletes only Microsoft 365 groups (a security group is
// deleted for good); the fake lets a test soft-delete any group.
//
// Without members selected a membership change lists nothing. A change to
// a property the round does not select still lists the object (Graph
// would not). $deltatoken=latest starts from now.
//
// A groups round's members@delta, initial or later, carries at most
// DeltaMembersPerPage references a page (WithDeltaMembersPerPage, default
// DefaultDeltaMembersPerPage), so a larger group or membership change
// comes back on several pages of the round, the same group id each time
// with the next part, as Graph splits large groups. Graph documents no
// figure for that split; the default is an assumption.
//
// Tokens: ExpireDeltaTokens makes every delta and skip token of a delta
// round issued so far answer 410 Gone, code syncStateNotFound, with a
// Location header holding the initial query (same options, empty
// $deltatoken), as Graph answers a token past its lifetime or after a
// synchronization reset. The fake keeps per-member history for the net
// changes and tombstones for removals; when they outgrow their bound
// (about a million entries) it expires older tokens the same way. A token
// it never issued is 400 Directory_ExpiredPageToken (Graph documents no
// answer for a malformed token).
//
// # Generated tenants
//
// Generate builds a deterministic tenant of any size (a million users take
// a couple of seconds): users sorted by GUID-shaped id, a manager
// hierarchy (CEO, one head per department, then six reports per manager),
// names in several scripts, offices, phones and employee ids. Users are
// generated by index i; the first 13 (LeadershipSize) are the CEO and the
// department heads, and the special populations are chosen among the staff
// by j = i - 13:
//
//	guests                 j % 50  == 7   2 %  userType Guest, UPN local_ext.com#EXT#@domain, external mail, no manager
//	disabled accounts      j % 25  == 3   4 %  accountEnabled false
//	no mailbox             j % 20  == 11  5 %  mail null; the UPN is the only address
//	duplicate-mail pairs   j % 100 == 46  1 %  this user's mail is the previous user's in different case
//
// The populations are disjoint and PopulationCount gives their exact sizes.
// Groups (DefaultGroupCount) are one per department, Leadership Team, three
// division groups nesting the departments, All Staff nesting the divisions
// and Leadership Team (three levels: All Staff > division > department >
// users), one per office, External Guests, People Managers, and one project
// group per 500 users (at most 2000), every fifth nesting the previous one.
//
// # Graph model
//
// Off by default, so tests stay fast. WithGraphModel or SetGraphModel
// turns on a model of the real service at scale; RealisticGraphModel is
// the one the benchmarks use:
//
//   - Latency: every Graph request waits Fixed + PerItem × items returned
//     (entries of "value", 1 for a single object, none for an error or a
//     $count) before its answer leaves, and stops waiting when the client
//     goes away. Microsoft documents no latency for Graph, so the realistic
//     figures are an assumption: 150 ms fixed (a round trip to a Graph
//     region plus the directory's work) and 1 ms per item, so a full page
//     of 999 users takes about 1.15 s. No public measurement was found to
//     replace it; a slower real tenant only lengthens a read.
//   - Throttling, from "Identity and access service limits" of
//     https://learn.microsoft.com/en-us/graph/throttling-limits (page dated
//     2025-01-14): a token bucket of resource units per app (client id) and
//     tenant, holding 3,500 units per 10 s for a tenant of fewer than 50
//     users, 5,000 for 50 to 500 and 8,000 above (TenantBudget), refilled
//     continuously. A request costs its base cost from that page's table
//     (GET users 2, GET groups/{id}/members 3, GET
//     groups/{id}/transitiveMembers 5, any other GET 1: groups, a single
//     object, delta, $count, a filtered one too), less 1 with $select,
//     plus 1 with $expand, less 1 with $top under 20, never below 1. A type cast or $count
//     under a membership listing is charged as the listing (the page does
//     not say; the dearer reading). The per-app limit across tenants
//     (150,000 units per 20 s), the write quotas and the global 130,000
//     requests per 10 s are not modelled: a sync reads one tenant.
//   - A request the bucket cannot pay for is answered 429 with Retry-After
//     in whole seconds until the bucket holds its cost again, the body of
//     the sample in https://learn.microsoft.com/en-us/graph/throttling
//     (code TooManyRequests, innerError code and status "429") and the
//     x-ms-throttle-scope and x-ms-throttle-information headers the limits
//     page describes; a paid request carries x-ms-resource-unit. A
//     throttled request is not debited, so waiting Retry-After is enough.
//
// GraphStats counts the Graph requests answered, the items returned, the
// 429s the budget answered and the units debited, by endpoint kind; the
// request log marks throttled requests. A fake in another process (a
// benchmark's) is steered through its control paths, which are no part of
// Graph: PUT and GET /_fakeentra/graph-model (a GraphModel as JSON,
// durations in nanoseconds) and GET /_fakeentra/graph-stats
// (SetRemoteGraphModel, RemoteGraphStats).
//
// # Faults
//
// InjectFault makes matching requests fail with a status (and
// Retry-After), drop the connection, or answer late; ExpireTokens
// invalidates every issued token. Requests records what was served.
//
// Faults also make Graph answer successfully but wrongly, as a client
// must refuse to read as complete: a 200 with no body, a 204, any body
// (FaultBody: "null", "{}", `{"value":null}`, text that is not JSON...),
// and on one page of a listing (users, groups, a group's members, a delta
// round, whose dropped nextLink ends the round with its deltaLink): no
// "value", truncated JSON, the nextLink dropped although more pages follow
// (a silently short read), a nextLink pointing back at the page before (a
// loop), or a nextLink on another host. FaultCountSkew makes $count
// disagree with the listing by a set amount. Fault.Query narrows a fault
// to requests whose decoded query contains it, e.g. one partition of a
// partitioned users read (nextLinks keep the filter).
package fakeentra
