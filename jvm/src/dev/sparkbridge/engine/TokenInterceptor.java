package dev.sparkbridge.engine;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;

import org.sparkproject.connect.grpc.Metadata;
import org.sparkproject.connect.grpc.ServerCall;
import org.sparkproject.connect.grpc.ServerCallHandler;
import org.sparkproject.connect.grpc.ServerInterceptor;
import org.sparkproject.connect.grpc.Status;

/**
 * Refuses every Spark Connect call that does not carry the engine's secret.
 *
 * <p>Spark 4 engines check their secret themselves ({@code spark.connect.authenticate.token}).
 * A Spark 3.5 Connect server has no authentication and no binding-address setting: it
 * listens on every interface, and anyone who reaches its port could run code as the user
 * it serves. The bridge launches every engine with this interceptor, which requires the
 * header {@code authorization: Bearer SECRET}, the same one Spark 4 checks, with SECRET from
 * the environment variable {@code SPARK_CONNECT_AUTHENTICATE_TOKEN} that the bridge sets, or
 * the secrets file of a YARN driver (never on the command line; see {@link Secrets}). Without
 * that secret the interceptor cannot be built, so an
 * engine never serves without a secret.
 */
public final class TokenInterceptor implements ServerInterceptor {
  static final String TOKEN_ENV = "SPARK_CONNECT_AUTHENTICATE_TOKEN";

  private static final Metadata.Key<String> AUTHORIZATION =
      Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);

  private final byte[] expected;

  public TokenInterceptor() {
    String token = Secrets.get(TOKEN_ENV);
    if (token == null) {
      throw new IllegalStateException(TOKEN_ENV + " is not set: this engine will not serve without a secret");
    }
    expected = ("Bearer " + token).getBytes(StandardCharsets.UTF_8);
  }

  @Override
  public <ReqT, RespT> ServerCall.Listener<ReqT> interceptCall(
      ServerCall<ReqT, RespT> call, Metadata headers, ServerCallHandler<ReqT, RespT> next) {
    String got = headers.get(AUTHORIZATION);
    if (got == null || !MessageDigest.isEqual(got.getBytes(StandardCharsets.UTF_8), expected)) {
      call.close(Status.UNAUTHENTICATED.withDescription("missing or invalid engine secret"), new Metadata());
      return new ServerCall.Listener<ReqT>() {};
    }
    return next.startCall(call, headers);
  }
}
