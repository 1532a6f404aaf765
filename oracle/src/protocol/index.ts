export * from "./constants";
export * from "./eip712";
export * from "./report";
export * from "./p256";
export * from "./request";
export * from "./input";
export * from "./fulfilment";
