/**
 * Failures across the gRPC boundary. A DaosError thrown by the served ControlPlane travels as a
 * gRPC status whose metadata carries its DER name and message, so the client throws the same
 * DaosError (code, message). The status code is the nearest gRPC one, for other gRPC clients.
 * Any other error is INTERNAL. A failure with no DER metadata (the transport's own: refused
 * handshake, deadline, unreachable server) becomes a GrpcStatusError: a DaosError whose code is
 * the nearest DER and whose message and `grpcCode` name the gRPC status (14 UNAVAILABLE ...).
 */
import * as grpc from '@grpc/grpc-js';
import { DaosError, type DerName } from '../../core/common/errors.js';

/** Metadata key of the DER name. */
export const DER_METADATA_KEY = 'daos-der';
/** Metadata key of the DaosError's message (UTF-8; a -bin key, so any text crosses). */
export const MESSAGE_METADATA_KEY = 'daos-message-bin';

const GRPC_CODE_BY_DER: Partial<Record<DerName, grpc.status>> = {
  DER_INVAL: grpc.status.INVALID_ARGUMENT,
  DER_NONEXIST: grpc.status.NOT_FOUND,
  DER_EXIST: grpc.status.ALREADY_EXISTS,
  DER_NO_PERM: grpc.status.PERMISSION_DENIED,
  DER_NOSPACE: grpc.status.RESOURCE_EXHAUSTED,
  DER_TIMEDOUT: grpc.status.DEADLINE_EXCEEDED,
  DER_NOSYS: grpc.status.UNIMPLEMENTED,
  DER_NOTSUPPORTED: grpc.status.UNIMPLEMENTED,
  DER_CANCELED: grpc.status.CANCELLED,
  DER_BUSY: grpc.status.UNAVAILABLE,
  DER_AGAIN: grpc.status.UNAVAILABLE,
};

const DER_BY_GRPC_CODE: Partial<Record<grpc.status, DerName>> = {
  [grpc.status.CANCELLED]: 'DER_CANCELED',
  [grpc.status.INVALID_ARGUMENT]: 'DER_INVAL',
  [grpc.status.DEADLINE_EXCEEDED]: 'DER_TIMEDOUT',
  [grpc.status.NOT_FOUND]: 'DER_NONEXIST',
  [grpc.status.ALREADY_EXISTS]: 'DER_EXIST',
  [grpc.status.PERMISSION_DENIED]: 'DER_NO_PERM',
  [grpc.status.UNAUTHENTICATED]: 'DER_NO_PERM',
  [grpc.status.RESOURCE_EXHAUSTED]: 'DER_NOSPACE',
  [grpc.status.UNIMPLEMENTED]: 'DER_NOSYS',
  [grpc.status.UNAVAILABLE]: 'DER_UNREACH',
};

/** The status a handler reports for `err`. */
export function statusOfError(err: unknown): Partial<grpc.StatusObject> {
  const metadata = new grpc.Metadata();
  if (err instanceof DaosError) {
    metadata.set(DER_METADATA_KEY, err.code);
    metadata.set(MESSAGE_METADATA_KEY, Buffer.from(innerMessage(err), 'utf8'));
    return { code: GRPC_CODE_BY_DER[err.code] ?? grpc.status.UNKNOWN, details: err.message, metadata };
  }
  const text = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  return { code: grpc.status.INTERNAL, details: text, metadata };
}

/** The message a DaosError was built with (without the `DER_X(-n): ` prefix its `message` has). */
function innerMessage(err: DaosError): string {
  const prefix = `${err.code}(${err.errno}): `;
  return err.message.startsWith(prefix) ? err.message.slice(prefix.length) : err.message;
}

/** A failure the gRPC layer reported, not the served ControlPlane: the gRPC status is kept. */
export class GrpcStatusError extends DaosError {
  /** The gRPC status code (14 = UNAVAILABLE: refused TLS handshake, server down). */
  readonly grpcCode: grpc.status;

  constructor(grpcCode: grpc.status, details: string, method: string) {
    super(
      DER_BY_GRPC_CODE[grpcCode] ?? 'DER_MISC',
      `${method}: gRPC ${grpcCode} ${grpc.status[grpcCode]}: ${details}`,
    );
    this.name = 'GrpcStatusError';
    this.grpcCode = grpcCode;
  }
}

/** The error a client call throws for a failed status: the plane's DaosError, or a GrpcStatusError. */
export function errorOfStatus(status: Partial<grpc.StatusObject>, method: string): DaosError {
  const der = status.metadata?.get(DER_METADATA_KEY)[0];
  const message = status.metadata?.get(MESSAGE_METADATA_KEY)[0];
  if (typeof der === 'string') {
    const text = message instanceof Buffer ? message.toString('utf8') : (status.details ?? '');
    return DaosError.from(der, text);
  }
  return new GrpcStatusError(status.code ?? grpc.status.UNKNOWN, status.details ?? '', method);
}
