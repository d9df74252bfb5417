// Package iamlocal gives the local stack AWS's IAM: every function calls
// AWS with credentials of its own role, and every stand-in refuses, with
// the service's own AccessDeniedException, an action or resource that
// role's policies (those of the SAM-transformed template.yaml) do not
// allow; a suite can then report every granted action and resource no
// request used.
//
//   - Roles: RolesFromTemplate (or LoadRoles) reads each AWS::IAM::Role of
//     the transformed template (the functions' <Function>Role, the state
//     machine's role) with its statements resolved to local ARNs and its
//     managed policies expanded.
//   - Policy evaluation: Policy.Evaluate is IAM's identity-based evaluation
//     in one account (explicit Deny wins, Action/NotAction,
//     Resource/NotResource, wildcards * and ?, actions case-insensitive,
//     resources case-sensitive). A statement with a Condition (or anything
//     else it cannot evaluate) fails the load: ErrUnsupportedStatement.
//   - Principals: each role has an access key (temporary credentials with
//     a session token, as an assumed role has) and the admin principal is
//     allowed everything, for the stack's own setup and tests.
//     GeneratePrincipals makes them; SetupMoto has moto issue them, so moto
//     knows the same keys.
//   - Middlewares: Authorizer.DynamoDB, StepFunctions, Lambda and
//     SecretsManager wrap an http.Handler: each request's SigV4 signature
//     is verified against its access key's secret (an unknown key is
//     UnrecognizedClientException, a wrong signature
//     InvalidSignatureException, in the service's wire format), then the
//     actions and resources the request needs are authorized, as AWS
//     authorizes that operation. Authorizer.Authorize serves calls no
//     middleware sees (Lambda invoking a function's OnFailure destination
//     with the function's role).
//   - Usage: each allowed request records the grants (role, statement,
//     action element, resource element) it used; Authorizer.Unused lists
//     the others.
//
// Wiring, as the local stack would do it (roles named by logical id; the
// region and account are sfnlocal's):
//
//	roles, err := iamlocal.LoadRoles(ctx, "template.yaml", iamlocal.LocalTransformOptions(map[string]string{
//		"JwtIssuer": localstack.LocalIssuer, "JwtAudience": localstack.LocalAudience, "CorsAllowedOrigins": origin,
//	}))
//	moto, err := motolocal.StartWith(ctx, motolocal.Options{EnforceIAM: true, AccountID: sfnlocal.LocalAccountID})
//	principals, err := iamlocal.SetupMoto(ctx, moto, roles) // or iamlocal.GeneratePrincipals(sfnlocal.LocalAccountID, roles) without moto
//	auth, err := iamlocal.New(iamlocal.Config{Region: sfnlocal.LocalRegion, Principals: principals, Logger: logger})
//
//	// DynamoDB Local and moto listen on ports of their own: a guarded proxy
//	// in front of each, its URL the clients' endpoint. DynamoDB Local keeps
//	// a database per access key, so its proxy signs every request as the
//	// client that created the tables (dynamolocal.Client: "local").
//	toDynamo, err := iamlocal.ResigningProxy(dynamo.Endpoint, aws.Credentials{AccessKeyID: "local", SecretAccessKey: "local"},
//		"dynamodb", sfnlocal.LocalRegion, logger)
//	dynamoFront, err := iamlocal.Serve(auth.DynamoDB(toDynamo)) // AWS_ENDPOINT_URL_DYNAMODB=dynamoFront.URL
//	toMoto, err := iamlocal.Proxy(moto.Endpoint, logger)
//	secretsFront, err := iamlocal.Serve(auth.SecretsManager(toMoto)) // AWS_ENDPOINT_URL_SECRETS_MANAGER=secretsFront.URL
//	// Handlers on the stack's own mux, wrapped where they are mounted:
//	mux.Handle("POST /stepfunctions", auth.StepFunctions(sfnAPI))
//	mux.Handle("/2015-03-31/functions/", auth.Lambda(lambdaService, nil)) // names are logical ids: ARN sfnlocal.LocalARN(name)
//
//	// Each function runs with its role's credentials ...
//	p, err := principals.For(fn.Name) // the function's logical id
//	maps.Copy(fn.Environment, p.Env()) // AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN
//	// ... the state machine runner with the state machine's ...
//	sm, err := principals.For("ApplyStateMachine")
//	// ... Lambda's async destinations with the function's role ...
//	err = auth.Authorize(worker, "lambda:InvokeFunction", sfnlocal.LocalARN("FinalizeFunction"))
//	// ... and the stack's own setup (tables, seeding) and tests as the admin.
//	db := dynamodb.New(dynamodb.Options{Region: sfnlocal.LocalRegion, BaseEndpoint: aws.String(dynamoFront.URL),
//		Credentials: principals.Admin().Provider()})
//
//	// At the end of a suite:
//	for _, g := range auth.Unused() {
//		t.Logf("granted, never used: %s", g)
//	}
//
// The SigV4 signature covers the path and Host: wrap a handler before any
// path rewriting (http.StripPrefix), and Proxy keeps the Host header. moto
// checks Secrets Manager actions only (against resource "*") and refuses
// in IAM's XML form, so clients reach it through SecretsManager, which
// checks resources and answers as Secrets Manager does.
package iamlocal
